"""WTForms forms: what a sign-in accepts (templates/login.html writes the fields)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

# Longest user name and password a sign-in accepts (templates/login.html writes them as maxlength).
USERNAME_MAX = 64
PASSWORD_MAX = 1024


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=USERNAME_MAX)],
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=PASSWORD_MAX)],
    )
    submit = SubmitField("Submit")
