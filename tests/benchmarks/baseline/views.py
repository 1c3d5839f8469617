from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Row


class NoopView(APIView):
    def get(self, request):
        return Response({})


class InsertView(APIView):
    def post(self, request):
        row = Row.objects.create(token=request.auth, payload=request.data)
        return Response({"id": row.pk}, status=201)
