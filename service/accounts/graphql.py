"""GraphQL types, queries and mutations for customer accounts."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.accounts import schemas
from service.accounts import service as accounts_service

MoneyType = gql.view_type(
    schemas.MoneyRead, "Money", "An amount (a decimal string, never a float) in one ISO 4217 currency."
)


@gql.view(schemas.AccountRead, name="Account", by_id=accounts_service.accounts_by_ids)
class AccountType:
    """A customer account; a merged one names its survivor."""

    etag: str = gql.etag_field(of=accounts_service.account_etag)
    merged_into: AccountType | None = gql.loaded("merged_into_id", "The account this one was merged into.")


MoneyInput = gql.input_type(schemas.Money, "MoneyInput")
AccountInput = gql.input_type(schemas.AccountCreate, "AccountInput")
AccountPatch = gql.input_type(
    schemas.AccountUpdate,
    "AccountPatch",
    "Account fields to change; omitted fields stay, null clears segment and annual revenue.",
    patch=True,
)


@strawberry.type
class AccountRoot:
    accounts = gql.query(
        accounts_service.list_accounts,
        "Customer accounts, oldest first (editors, managers, admins, `feedback:read`).",
    )
    account = gql.query(accounts_service.get_account, "One customer account.")
    create_account = gql.mutation(
        accounts_service.create_account, "Create a customer account (editors, admins)."
    )
    update_account = gql.mutation(
        accounts_service.update_account, "Change a customer account (editors, admins); `ifMatch` optional."
    )
    merge_account = gql.mutation(
        accounts_service.merge_account,
        "Merge an account into another (the same customer) and get the survivor: its feedback moves. "
        "Into itself → BAD_USER_INPUT; from or into a merged account → CONFLICT.",
        schema=schemas.AccountMerge,
    )
