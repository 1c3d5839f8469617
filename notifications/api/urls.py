from .channels import urlpatterns as channel_urls

urlpatterns: list = [*channel_urls]
