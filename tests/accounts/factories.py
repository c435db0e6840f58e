import datetime

import factory
from django.utils import timezone

from accounts.choices import Department, EventType, OpportunityStage, Seniority
from accounts.models import (
    Account,
    Campaign,
    Channel,
    Contact,
    EngagementEvent,
    Opportunity,
    Persona,
    Product,
    SalesAgent,
    Technology,
)


class TechnologyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Technology
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Tech {n}")
    category = "CRM"


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.com")
    industry = "software"
    employee_count = 250
    annual_revenue = 25_000_000
    country = "US"


class PersonaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Persona
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Persona {n}")
    match_titles = ["marketing"]
    match_seniorities = [Seniority.DIRECTOR]
    match_departments = [Department.MARKETING]


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Lovelace{n}")
    title = "Director of Marketing"
    seniority = Seniority.DIRECTOR
    department = Department.MARKETING


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Product {n}")
    key = factory.LazyAttribute(lambda p: p.name.lower().replace(" ", ""))
    list_price = 1000


class SalesAgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesAgent
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Agent {n}")
    regional_office = "Central"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("slug",)

    slug = "inbound"
    name = factory.LazyAttribute(lambda c: c.slug.title())


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = factory.SubFactory(ChannelFactory)
    start_date = factory.LazyFunction(lambda: datetime.date.today() - datetime.timedelta(days=60))
    end_date = factory.LazyFunction(datetime.date.today)
    cost = 5000


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Deal {n}")
    amount = 12000
    stage = OpportunityStage.ENGAGING
    created_date = factory.LazyFunction(lambda: datetime.date.today() - datetime.timedelta(days=30))


class EngagementEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementEvent

    message_id = factory.Sequence(lambda n: f"msg-{n}")
    event_type = EventType.PAGE_VIEW
    occurred_at = factory.LazyFunction(timezone.now)
    account = factory.SubFactory(AccountFactory)
    url = "https://example.com/pricing"
