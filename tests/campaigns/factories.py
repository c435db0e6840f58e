import datetime

import factory

from campaigns.models import Campaign, Channel


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
