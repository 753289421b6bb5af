"""Page forms. They carry CSRF and field types; the rules live in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TelField
from wtforms.fields.choices import SelectChoice

from backend.config import DISTRICTS


class LoginForm(FlaskForm):
    phone = TelField(_l("Mobile number"))
    password = PasswordField(_l("Password"))


class RegisterForm(FlaskForm):
    phone = TelField(_l("Mobile number"))
    password = PasswordField(_l("Password"))
    # validate_choice=False: the service checks the district and answers with its own code
    district = SelectField(
        _l("District or county"),
        validate_choice=False,
        choices=[SelectChoice("", "—")] + [SelectChoice(d, d) for d in DISTRICTS],
    )
    nickname = StringField(_l("Nickname (optional)"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"))
    new_password = PasswordField(_l("New password"))
