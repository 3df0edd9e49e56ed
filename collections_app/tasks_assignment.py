"""Who gets a follow-up task: the tenant's named owner, or the least-loaded agent."""

from django.db.models import Count

from tenants.models import Membership, Role, Tenant

from .models import FollowUpTask, TaskStatus


class TaskAssigner:
    """Hands out assignees for a batch of new tasks. Round-robin by load: each task goes to
    the agent with the fewest open tasks (ties by user id), counting the batch as it goes, so
    a day's tasks spread evenly and nothing is kept between runs but the tasks themselves."""

    def __init__(self, *, tenant: Tenant):
        self.fixed = (
            tenant.task_owner_id
            if tenant.task_assignment == "owner" and tenant.task_owner_id
            else None
        )
        self.load: dict[int, int] = {}
        if self.fixed is None:
            members = Membership.objects.filter(tenant=tenant)
            agents = list(members.filter(role=Role.AGENT).values_list("user_id", flat=True))
            if not agents:  # a small team: admins and owners do the calls
                agents = list(
                    members.filter(role__in=[Role.ADMIN, Role.OWNER]).values_list(
                        "user_id", flat=True
                    )
                )
            self.load = dict.fromkeys(agents, 0)
            for row in (
                FollowUpTask.objects.filter(status=TaskStatus.OPEN, assignee_id__in=agents)
                .values("assignee_id")
                .annotate(n=Count("id"))
            ):
                self.load[row["assignee_id"]] = row["n"]

    def next(self) -> int | None:
        if self.fixed is not None:
            return self.fixed
        if not self.load:
            return None
        user_id = min(self.load, key=lambda uid: (self.load[uid], uid))
        self.load[user_id] += 1
        return user_id
