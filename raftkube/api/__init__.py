"""The REST API every master serves: Falcon resources over the registry, served by waitress."""
