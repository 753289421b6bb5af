from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, DomainError, Forbidden, NotFound


class UnknownTeam(NotFound):
    code = "unknown_team"
    message = _l("No team has this code, or you are not in it.")


class InvalidTeam(DomainError):
    code = "invalid_team"
    status = 422
    message = _l("Give the team a name (1 to 40 characters) and a kind.")


class AlreadyMember(Conflict):
    code = "already_member"
    message = _l("You are already in this team.")


class NotTeamCreator(Forbidden):
    code = "not_team_creator"
    message = _l("Only the person who created the team can set its goal.")


class InvalidGoal(DomainError):
    code = "invalid_team_goal"
    status = 422
    message = _l("Choose a planting project and a number of points (1 to 100,000,000).")


class NoTeamGoal(Conflict):
    code = "no_team_goal"
    message = _l("The team has no goal yet: its creator chooses a planting project first.")
