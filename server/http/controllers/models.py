"""/v1/models: the voice catalog (built-in voices and clones), one model, delete a clone."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from server.auth.caller import Caller
from server.domain.catalog import CatalogQuery
from server.services.catalog import CatalogService, item_json


class ModelsController(Controller):
    path = "/models"
    tags = ["models"]

    @get("/", summary="List voice models: fuzzy title search, filters, sorting, cached")
    async def list_models(
        self,
        caller: NamedDependency[Caller],
        catalog: NamedDependency[CatalogService],
        page_size: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
        page_number: Annotated[int, QueryParameter(ge=1)] = 1,
        title: Annotated[str | None, QueryParameter(description="Fuzzy: typos and partial words match")] = None,
        tag: Annotated[list[str] | None, QueryParameter(description="Repeatable; all must match")] = None,
        language: Annotated[list[str] | None, QueryParameter(description="Repeatable; all must match")] = None,
        sort_by: FromQuery[Literal["score", "task_count", "created_at"]] = "score",
        self_only: Annotated[bool, QueryParameter(name="self", description="Only the caller's own models")] = False,
        refresh: Annotated[bool, QueryParameter(description="Bypass the cache (and refill it)")] = False,
    ) -> Response[dict[str, Any]]:
        query = CatalogQuery(
            page_size=page_size,
            page_number=page_number,
            title=title,
            tags=tuple(tag or ()),
            languages=tuple(language or ()),
            sort_by=sort_by,
            self_only=self_only,
        )
        page, hit = await catalog.apage(caller.owner, query, refresh)
        return Response(page, headers={"X-Cache": "hit" if hit else "miss"})

    @get("/{model_id:str}", sync_to_thread=True, summary="One voice model")
    def get_model(
        self, model_id: FromPath[str], caller: NamedDependency[Caller], catalog: NamedDependency[CatalogService]
    ) -> dict[str, Any]:
        return item_json(catalog.get(caller.owner, model_id))

    @delete("/{model_id:str}", sync_to_thread=True, summary="Delete one of your cloned voices")
    def delete_model(
        self, model_id: FromPath[str], caller: NamedDependency[Caller], catalog: NamedDependency[CatalogService]
    ) -> None:
        catalog.delete(caller.owner, model_id)
