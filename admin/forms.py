"""Admin console forms: they carry CSRF and field types; the rules live in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField


class CodeForm(FlaskForm):
    code = StringField(_l("Verification code"))
