"""Daily and funnel rollups the dashboard reads."""

from django.db import models
from django_scopes import ScopedManager

from tenants.models import Tenant


class DailyStat(models.Model):
    """Rollup of a tenant's invoices per segment and day, so the dashboard's metrics read a few
    hundred rows instead of every invoice. One row holds three views of the same day: the
    invoices due that day (by effective due date), those paid in full that day, and those
    issued that day. Cancelled and written-off invoices are left out, as in the metrics.

    Rows are recomputed — never incremented — for the days a write touched, inside the
    writer's transaction and under a per-tenant lock (`collections_app.stats.rollups`), so they
    cannot drift; `manage.py rebuild_stats` recomputes everything. `segment_id` is the customer's
    segment (0: none)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    segment_id = models.IntegerField(default=0)
    day = models.DateField()
    # Invoices due on `day`.
    due_n = models.IntegerField(default=0)
    due_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    on_time_n = models.IntegerField(default=0)  # paid in full by the due date
    on_time_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    late_n = models.IntegerField(default=0)  # the others (late once `day` has passed)
    late_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    late_recovered = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    late_paid_n = models.IntegerField(default=0)
    open_n = models.IntegerField(default=0)
    open_remaining = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # Invoices paid in full on `day`.
    paid_n = models.IntegerField(default=0)
    paid_days_to_pay = models.BigIntegerField(default=0)
    paid_days_late = models.BigIntegerField(default=0)
    # Invoices issued on `day`.
    issued_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "segment_id", "day"], name="uniq_daily_stat")
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="daily_stat_tenant_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.segment_id} {self.day}"


class FunnelStat(models.Model):
    """The funnel per step, channel and segment, by the day the reminders were sent (the
    tenant's date): how many were sent, delivered and clicked, and the payments attributed
    to them with the amount. Counters move with each first event — a message reaching
    `sent`, its first delivery, its first click, a payment attributed to it — which the
    status transitions make exactly-once; `manage.py rebuild_stats` recomputes them from the
    messages, clicks and payments. `step_id` and `segment_id` are 0 when there is none."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    step_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=10)
    segment_id = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    clicked = models.IntegerField(default=0)
    paid = models.IntegerField(default=0)
    recovered = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "step_id", "channel", "segment_id"],
                name="uniq_funnel_stat",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.step_id} {self.channel}"
