import factory
from django.contrib.auth import get_user_model

from revops import services
from revops.choices import Role, TeamKind
from revops.models import Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    kind = TeamKind.MARKETING
    name = factory.LazyAttribute(lambda t: TeamKind(t.kind).label)
    slug = factory.LazyAttribute(lambda t: t.kind.replace("_", "-"))


def make_member(*, kind: str = TeamKind.MARKETING, role: str = Role.MEMBER, **user_kwargs):
    """A user with ``role`` in the team of ``kind`` (the team is created once)."""
    user = UserFactory(**user_kwargs)
    services.membership_set(actor=None, user=user, team=TeamFactory(kind=kind), role=role)
    return user
