"""Widgets of the application forms: labelled fields with their inline messages, the
member list, the requirement checklist and the list of open issues."""

from field_client.widgets.form.checklist import ChecklistPanel
from field_client.widgets.form.field_row import FieldRow, code_row, date_row, text_row
from field_client.widgets.form.issue_list import IssueList
from field_client.widgets.form.member_table import MemberTable
from field_client.widgets.form.pick_list import PickList

__all__ = [
    "ChecklistPanel",
    "FieldRow",
    "IssueList",
    "MemberTable",
    "PickList",
    "code_row",
    "date_row",
    "text_row",
]
