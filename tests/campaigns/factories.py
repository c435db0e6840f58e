import factory

from campaigns.choices import SegmentKind
from campaigns.models import Segment


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = SegmentKind.DYNAMIC
    criteria = factory.LazyFunction(dict)
