"""Screens of the counter app, one per file: enrollment, login, dashboard."""

from field_client.screens.dashboard import DashboardScreen
from field_client.screens.enrollment import EnrollmentScreen
from field_client.screens.login import LoginScreen

__all__ = ["DashboardScreen", "EnrollmentScreen", "LoginScreen"]
