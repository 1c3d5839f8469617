"""The clinician desk: staff sign in with a password (a session), see the open alerts of their
sites, acknowledge and resolve them, and follow a subject's scores and Cmax on one timeline."""
