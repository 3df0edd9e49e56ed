"""The REST API v1: serializers, viewsets and their URLs (docs/api.md)."""
