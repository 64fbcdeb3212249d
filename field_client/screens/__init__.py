"""Screens of the counter app, one per file: enrollment, login, dashboard, the application
(view, form, member form) and small dialogs."""

from field_client.screens.application_form import ApplicationFormScreen
from field_client.screens.application_view import ApplicationScreen
from field_client.screens.dashboard import DashboardScreen
from field_client.screens.enrollment import EnrollmentScreen
from field_client.screens.inbox import InboxScreen
from field_client.screens.login import LoginScreen
from field_client.screens.member_form import MemberFormScreen

__all__ = [
    "ApplicationFormScreen",
    "ApplicationScreen",
    "DashboardScreen",
    "EnrollmentScreen",
    "InboxScreen",
    "LoginScreen",
    "MemberFormScreen",
]
