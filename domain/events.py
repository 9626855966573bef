"""Domain events: every state change publishes one.

An event carries ids, the actor, the time and the minimum payload a client needs. Names are
dotted ``aggregate.verb`` strings and are part of the public websocket contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

USER_SIGNED_UP = "user.signed_up"
USER_UPDATED = "user.updated"
PROJECT_CREATED = "project.created"
PROJECT_UPDATED = "project.updated"
PROJECT_DELETED = "project.deleted"
PROJECT_PROGRESS_CHANGED = "project.progress_changed"
TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_COMPLETED = "task.completed"
TASK_DELETED = "task.deleted"
POST_CREATED = "post.created"
POST_UPDATED = "post.updated"
POST_DELETED = "post.deleted"
POST_ANALYZED = "post.analyzed"
COLLECTION_CREATED = "collection.created"
COLLECTION_UPDATED = "collection.updated"
COLLECTION_DELETED = "collection.deleted"
COLLECTION_POST_ADDED = "collection.post_added"
COLLECTION_POST_REMOVED = "collection.post_removed"
#: a background job's state or progress changed (to its owner's ``user:<id>`` channel)
JOB_PROGRESS = "job.progress"
JOB_SUCCEEDED = "job.succeeded"
JOB_FAILED = "job.failed"
#: a notification to a user (the overdue digest), live on their ``user:<id>`` channel;
#: ``data``: ``subject``, ``body`` — the same message the configured channel (log, e-mail) gets
NOTIFICATION_SENT = "notification.sent"

EVENT_NAMES: frozenset[str] = frozenset(
    {
        USER_SIGNED_UP,
        USER_UPDATED,
        PROJECT_CREATED,
        PROJECT_UPDATED,
        PROJECT_DELETED,
        PROJECT_PROGRESS_CHANGED,
        TASK_CREATED,
        TASK_UPDATED,
        TASK_COMPLETED,
        TASK_DELETED,
        POST_CREATED,
        POST_UPDATED,
        POST_DELETED,
        POST_ANALYZED,
        COLLECTION_CREATED,
        COLLECTION_UPDATED,
        COLLECTION_DELETED,
        COLLECTION_POST_ADDED,
        COLLECTION_POST_REMOVED,
        JOB_PROGRESS,
        JOB_SUCCEEDED,
        JOB_FAILED,
        NOTIFICATION_SENT,
    }
)


@dataclass(frozen=True, slots=True)
class DomainEvent:
    id: str
    name: str
    actor_id: str | None
    at: datetime
    #: the project the event belongs to, when it belongs to one (routing and visibility)
    project_id: str | None = None
    #: the user the event concerns, for per-user channels
    user_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
