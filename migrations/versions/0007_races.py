"""one submitted (ungraded) check per person and brief version

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:40:00

Concurrent submissions on SQLite left some people with several open checks for the same
version. The database now refuses a second one whatever the backend; the duplicates the race
already wrote (never graded: they are all `submitted`) are removed first, keeping each
person's earliest. Downgrading drops the index only; removed duplicates do not come back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBMITTED = sa.text("status = 'submitted'")


def upgrade() -> None:
    op.execute(
        """
        DELETE FROM checks
        WHERE status = 'submitted' AND EXISTS (
            SELECT 1 FROM checks AS earlier
            WHERE earlier.status = 'submitted'
              AND earlier.person_id = checks.person_id
              AND earlier.lineage_id = checks.lineage_id
              AND earlier.version = checks.version
              AND (earlier.submitted_at < checks.submitted_at
                   OR (earlier.submitted_at = checks.submitted_at AND earlier.id < checks.id))
        )
        """
    )
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.create_index(
            "uq_checks_submitted_person_version",
            ["person_id", "lineage_id", "version"],
            unique=True,
            postgresql_where=SUBMITTED,
            sqlite_where=SUBMITTED,
        )


def downgrade() -> None:
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_checks_submitted_person_version", postgresql_where=SUBMITTED, sqlite_where=SUBMITTED
        )
