"""Who gets a follow-up task: the tenant's named owner, or the least-loaded agent."""

from django.db.models import Count

from collections_app.models import FollowUpTask, TaskStatus
from tenants.models import Membership, Role, Tenant


def task_assigners(*, tenants) -> dict[int, "TaskAssigner"]:
    """One assigner per tenant, loaded with two queries for all of them."""
    tenants = list(tenants)
    ids = [t.pk for t in tenants]
    members: dict[int, dict[str, list[int]]] = {pk: {} for pk in ids}
    for tenant_id, user_id, role in Membership.objects.filter(tenant_id__in=ids).values_list(
        "tenant_id", "user_id", "role"
    ):
        members[tenant_id].setdefault(role, []).append(user_id)
    load = dict(
        FollowUpTask.objects.filter(
            tenant_id__in=ids, status=TaskStatus.OPEN, assignee_id__isnull=False
        )
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    return {t.pk: TaskAssigner(tenant=t, members=members[t.pk], open_load=load) for t in tenants}


class TaskAssigner:
    """Hands out assignees for a batch of new tasks. Round-robin by load: each task goes to
    the agent with the fewest open tasks (ties by user id), counting the batch as it goes, so
    a day's tasks spread evenly and nothing is kept between runs but the tasks themselves."""

    def __init__(self, *, tenant: Tenant, members: dict[str, list[int]], open_load: dict):
        self.fixed = (
            tenant.task_owner_id
            if tenant.task_assignment == "owner" and tenant.task_owner_id
            else None
        )
        # A small team without agents: admins and owners do the calls.
        agents = members.get(Role.AGENT) or members.get(Role.ADMIN, []) + members.get(
            Role.OWNER, []
        )
        self.load = {user_id: open_load.get(user_id, 0) for user_id in agents}

    def next(self) -> int | None:
        if self.fixed is not None:
            return self.fixed
        if not self.load:
            return None
        user_id = min(self.load, key=lambda uid: (self.load[uid], uid))
        self.load[user_id] += 1
        return user_id
