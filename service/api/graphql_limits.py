"""Guards on what a GraphQL document may ask for, checked before any resolver runs.

Three layers, cheapest first:

1. Parsing: the source length, lexical tokens and comments are capped (graphql-core's parser
   options), so the parser never holds the event loop for long; parsed documents are cached by
   text, bounded in number and in total length.
2. Validation (document only, so its result is cached per document): operation depth,
   aliases and introspection nesting. Linear in the document: each named fragment is measured
   once, however often it is spread (strawberry's own limiters walk a fragment again at every
   spread, which a document of 20 fragments each spreading the next twice turns into seconds).
3. Cost (document *and* variables, so computed on every request, never cached): the number of
   objects the server would look up. Refused with `QUERY_TOO_COMPLEX` before execution.

The cost model: every object a resolver looks up counts 1, times how many of its parent there
are. A connection counts its page (`first`, or its default) for its edges; any other list a
resolver returns counts its `first`/`limit` argument, else its bound in `LIST_BOUNDS`, else the
page cap. Embedded values (a brief's pains, a pitch's messages) belong to the object that holds
them and count nothing. Scalars count nothing. Introspection fields are left to graphql-core's
`MaxIntrospectionDepthRule`.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import DocumentNode, parse
from graphql.utilities import get_operation_ast
from graphql.validation import validate
from graphql.validation.rules.max_introspection_depth_rule import MaxIntrospectionDepthRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from service.pagination import MAX_LIMIT

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"

# Lists a resolver returns without a `first` argument, bounded by what a write may store
# (schemas' max_length) or by what the resolver returns at most. Every other such list counts
# the page cap.
LIST_BOUNDS: dict[str, int] = {
    "Message.evidence": 50,  # MessageCreate.evidence_ids max_length
    "FeedbackItem.transitions": 4,  # one per stage after NEW
    "InterviewResult.feedbackItems": 3,  # one per interview answer
    "Digest.loopGapItems": 100,  # documented: up to 100
    "Digest.overdueItems": 100,  # documented: up to 100
}
PAGE_ARGUMENTS = ("first", "limit")
# graphql-core compares every pair of fields sharing a response name in a selection set
# (OverlappingFieldsCanBeMerged): 285 copies of `manager { id }` took half a second to validate.
MAX_SAME_NAME = 30

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """Drop graphql-core's "Did you mean …?" hints (they name fields and values)."""
    return _SUGGESTION.sub("", message)


# --- 1. parsing ------------------------------------------------------------------------------


class TextCache:
    """An LRU keyed by query text, bounded in entries and in the total length of the texts.

    By length too: a parsed document keeps every token alive (~270 bytes per character of a
    token-dense text), so 512 entries of the longest documents would hold half a gigabyte.
    """

    def __init__(self, *, max_entries: int = 512, max_chars: int = 128 * 1024) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: OrderedDict[Any, tuple[int, Any]] = OrderedDict()
        self._chars = 0

    def get(self, key: Any) -> Any | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: Any, text: str, value: Any) -> None:
        if len(text) > self.max_chars or key in self._entries:
            return
        self._entries[key] = (len(text), value)
        self._chars += len(text)
        while len(self._entries) > self.max_entries or self._chars > self.max_chars:
            _, (chars, _) = self._entries.popitem(last=False)
            self._chars -= chars


class DocumentParser(SchemaExtension):
    """Parse within limits (code points, lexical tokens, comments), each distinct text once.

    Strawberry's ParserCache, but bounded by the texts' length as well as their number (see
    TextCache), and with the limits checked by graphql-core's parser itself: the source length
    before lexing, the tokens as they are read.
    """

    def __init__(self, documents: TextCache, *, max_chars: int, max_tokens: int) -> None:
        self.documents = documents
        self.max_chars = max_chars
        self.max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query or ""
        document = self.documents.get(query)
        if document is None:
            # A GraphQLSyntaxError is the caller's answer.
            document = parse(
                query,
                max_source_length=self.max_chars,
                max_lexical_tokens=self.max_tokens,
                max_comments=self.max_tokens,
            )
            self.documents.put(query, query, document)
        context.graphql_document = document
        yield


# --- 2. validation ---------------------------------------------------------------------------


def shape_rule(*, max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """A validation rule refusing documents deeper than `max_depth` or with too many aliases.

    Built once per schema (a fresh class per request would defeat the validation cache, whose key
    holds the rules). Depth counts fields with a selection set; introspection fields (`__schema`,
    `__type`) are not counted here but by `MaxIntrospectionDepthRule`.
    """

    class DocumentShapeRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {
                d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            measure = _ShapeMeasure(fragments)
            aliases = 0
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                depth, count = measure.selection_set(definition.selection_set)
                aliases += count
                if depth > max_depth:
                    name = definition.name.value if definition.name else "anonymous"
                    context.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            definition,
                            extensions={"depth": depth, "limit": max_depth},
                        )
                    )
            if aliases > max_aliases:
                context.report_error(
                    GraphQLError(
                        f"{aliases} aliases found. Allowed: {max_aliases}",
                        extensions={"aliases": aliases, "limit": max_aliases},
                    )
                )
            name, times = _SameNames(fragments).worst(document)
            if times > MAX_SAME_NAME:
                context.report_error(
                    GraphQLError(
                        f"'{name}' is selected {times} times in one selection set. Allowed: {MAX_SAME_NAME}",
                        extensions={"limit": MAX_SAME_NAME},
                    )
                )

    return DocumentShapeRule


class _SameNames:
    """How often one response name is selected in one selection set, fragments included
    (a fragment spread twice in one set counts once, as graphql-core collects it)."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, Counter[str]] = {}
        self.active: set[str] = set()

    def worst(self, document: DocumentNode) -> tuple[str, int]:
        worst: tuple[str, int] = ("", 0)
        pending = [
            d.selection_set
            for d in document.definitions
            if isinstance(d, (OperationDefinitionNode, FragmentDefinitionNode))
        ]
        while pending:  # every selection set of the document once, no recursion
            selection_set = pending.pop()
            counts = self.counts(selection_set)
            if counts:
                name, times = counts.most_common(1)[0]
                if times > worst[1]:
                    worst = (name, times)
            pending.extend(field.selection_set for field in _fields(selection_set) if field.selection_set)
        return worst

    def counts(self, selection_set: SelectionSetNode) -> Counter[str]:
        counts: Counter[str] = Counter()
        spreads: set[str] = set()
        for field in _fields(selection_set, spreads):
            counts[(field.alias or field.name).value] += 1
        for name in spreads:
            counts.update(self.fragment(name))
        return counts

    def fragment(self, name: str) -> Counter[str]:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.active:
            return Counter()
        self.active.add(name)
        counts = self.counts(fragment.selection_set)
        self.active.discard(name)
        self.memo[name] = counts
        return counts


def _fields(selection_set: SelectionSetNode, spreads: set[str] | None = None) -> list[FieldNode]:
    """The fields of a selection set, inline fragments flattened; named spreads go to `spreads`."""
    fields: list[FieldNode] = []
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and spreads is not None:
                spreads.add(selection.name.value)
    return fields


class _ShapeMeasure:
    """Depth and alias count of selection sets; each fragment measured once (memoized)."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, tuple[int, int]] = {}
        self.active: set[str] = set()  # cycles are NoFragmentCyclesRule's to report

    def selection_set(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        depth = aliases = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                aliases += 1 if selection.alias else 0
                if selection.name.value.startswith("__") or selection.selection_set is None:
                    continue
                child_depth, child_aliases = self.selection_set(selection.selection_set)
                depth = max(depth, 1 + child_depth)
                aliases += child_aliases
            elif isinstance(selection, InlineFragmentNode):
                child_depth, child_aliases = self.selection_set(selection.selection_set)
                depth, aliases = max(depth, child_depth), aliases + child_aliases
            elif isinstance(selection, FragmentSpreadNode):
                child_depth, child_aliases = self.fragment(selection.name.value)
                depth, aliases = max(depth, child_depth), aliases + child_aliases
        return depth, aliases

    def fragment(self, name: str) -> tuple[int, int]:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.active:
            return 0, 0
        self.active.add(name)
        result = self.selection_set(fragment.selection_set)
        self.active.discard(name)
        self.memo[name] = result
        return result


class CachedValidation(SchemaExtension):
    """Validate each distinct document once, optionally without "Did you mean …?" hints.

    Like strawberry's ValidationCache, but keyed by the query text rather than the parsed
    document (hashing a frozen AST walks all of it on every request) and able to hide
    suggestions, which strawberry's `validate_document` does not pass on to graphql-core.
    Only document-level rules run here; the cost, which depends on variables, does not.
    """

    def __init__(self, cache: ValidationResults) -> None:
        self.cache = cache

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None and context.graphql_document is not None:
            context.pre_execution_errors = self.cache.errors(
                context.schema._schema,
                context.query or "",
                context.validation_rules,
                context.graphql_document,
            )
        yield


class ValidationResults:
    """Validation errors by (query text, rules), in a TextCache; one per schema."""

    def __init__(
        self, *, hide_suggestions: bool, precheck: list[type[ValidationRule]], cache: TextCache | None = None
    ) -> None:
        self.hide_suggestions = hide_suggestions
        self.precheck = tuple(precheck)
        self.cache = cache or TextCache()

    def errors(
        self, schema: GraphQLSchema, query: str, rules: tuple[Any, ...], document: DocumentNode
    ) -> list[GraphQLError]:
        key = (query, rules)
        found = self.cache.get(key)
        if found is None:
            # The cheap, linear rules first: a document they refuse never reaches the spec's
            # rules, some of which are quadratic in what these rules bound.
            found = validate(schema, document, self.precheck) or validate(
                schema,
                document,
                (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
                hide_suggestions=self.hide_suggestions,
            )
            self.cache.put(key, query, found)
        return list(found)


# --- 3. cost ---------------------------------------------------------------------------------


class QueryCost(SchemaExtension):
    """Refuse an operation whose estimated cost is over the limit, before it executes.

    Runs on every request (after the cached validation), with the request's variables: a
    `first: $n` counts what `$n` is this time.
    """

    def __init__(self, *, max_cost: int, page_cap: int = MAX_LIMIT) -> None:
        self.max_cost = max_cost
        self.page_cap = page_cap

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            cost = estimate_cost(
                context.schema._schema,
                context.graphql_document,
                context.variables,
                context.operation_name,
                page_cap=self.page_cap,
            )
            if cost is not None and cost > self.max_cost:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"The query would return about {cost} objects; the limit is {self.max_cost}. "
                            "Ask for smaller pages (`first`) or fewer nested lists.",
                            extensions={"code": QUERY_TOO_COMPLEX, "cost": cost, "limit": self.max_cost},
                        )
                    ],
                )
        yield


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any] | None,
    operation_name: str | None = None,
    *,
    page_cap: int = MAX_LIMIT,
) -> int | None:
    """The operation's cost (see the module docstring), or None when it cannot run anyway
    (no such operation, or variables that do not coerce: execution reports those)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {}, max_errors=1)
    if isinstance(coerced, list):
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _CostWalk(schema, fragments, coerced, page_cap).selection_set(operation.selection_set, root, None)


class _CostWalk:
    """Per-object cost of a selection set; multiplication happens at list fields. Named
    fragments are costed once per (fragment, page) and reused: linear in the document."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        page_cap: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.page_cap = page_cap
        self.memo: dict[tuple[str, int | None], int] = {}
        self.active: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode | None, parent: Any, page: int | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                total += self.selection_set(selection.selection_set, self._condition(selection, parent), page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, page)
        return total

    def fragment(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key in self.memo:
            return self.memo[key]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.active:
            return 0
        self.active.add(name)
        cost = self.selection_set(fragment.selection_set, self._condition(fragment, None), page)
        self.active.discard(name)
        self.memo[key] = cost
        return cost

    def field(self, node: FieldNode, parent: Any, page: int | None) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return 0
        definition: GraphQLField = fields[name]
        named = get_named_type(definition.type)
        if node.selection_set is None:  # a scalar or enum
            return 0
        is_list = is_list_type(get_nullable_type(definition.type))
        paged = self._page_argument(definition, node)
        strawberry_field = definition.extensions.get("strawberry-definition")
        looked_up = strawberry_field is not None and strawberry_field.base_resolver is not None
        if name == "edges" and page is not None:
            size, counted, child_page = page, True, None  # a connection's page of edges
        elif is_list:
            bound = LIST_BOUNDS.get(f"{parent.name}.{name}", self.page_cap)
            size, counted, child_page = (paged if paged is not None else bound), looked_up, None
        else:
            # A connection passes its page down to its `edges`.
            size, counted, child_page = 1, looked_up, paged
        per_parent = self.selection_set(node.selection_set, named, child_page)
        return size * ((1 if counted else 0) + per_parent)

    def _page_argument(self, definition: GraphQLField, node: FieldNode) -> int | None:
        names = [n for n in PAGE_ARGUMENTS if n in definition.args]
        if not names:
            return None
        try:
            values = get_argument_values(definition, node, self.variables)
        except GraphQLError:
            return self.page_cap  # execution refuses it; count the worst meanwhile
        value = values.get(names[0])
        return max(int(value), 0) if isinstance(value, int) else self.page_cap

    def _condition(self, node: InlineFragmentNode | FragmentDefinitionNode, parent: Any) -> Any:
        if node.type_condition is None:
            return parent
        return self.schema.get_type(node.type_condition.name.value) or parent


def validation_rules(*, max_depth: int, max_aliases: int) -> list[type[ValidationRule]]:
    """The document-only rules (cached with the document's validation)."""
    return [shape_rule(max_depth=max_depth, max_aliases=max_aliases), MaxIntrospectionDepthRule]
