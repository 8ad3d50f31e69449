from typing import cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .models import User
from .roles import can_see_patient_data, roles_of


class MeApi(APIView):
    """Who am I: roles, sites and whether I may see patient data."""

    class SiteSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        timezone = serializers.CharField()

    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        name = serializers.CharField()
        roles = serializers.ListField(child=serializers.CharField())
        sites = serializers.ListField(child=serializers.DictField())
        can_see_patient_data = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)  # IsAuthenticated
        sites = selectors.site_list(user=user)
        data = {
            "username": user.get_username(),
            "name": user.get_full_name(),
            "roles": roles_of(user),
            "sites": self.SiteSerializer(sites, many=True).data,
            "can_see_patient_data": can_see_patient_data(user),
        }
        return Response(self.OutputSerializer(data).data)
