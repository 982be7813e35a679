"""/v1/models: the voice catalog (built-in voices and clones), one model, delete a clone."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from server.domain.catalog import CatalogQuery
from server.http.dependencies import Services
from server.http.identity import Caller
from server.services.catalog import item_json


class ModelsController(Controller):
    path = "/models"
    tags = ["models"]

    @get("/", summary="List voice models: fuzzy title search, filters, sorting, cached")
    async def list_models(
        self,
        caller: NamedDependency[Caller],
        services: NamedDependency[Services],
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
        page, hit = await services.catalog.apage(caller.owner, query, refresh)
        return Response(page, headers={"X-Cache": "hit" if hit else "miss"})

    @get("/{model_id:str}", sync_to_thread=True, summary="One voice model")
    def get_model(
        self, model_id: FromPath[str], caller: NamedDependency[Caller], services: NamedDependency[Services]
    ) -> dict[str, Any]:
        return item_json(services.catalog.get(caller.owner, model_id))

    @delete("/{model_id:str}", sync_to_thread=True, summary="Delete one of your cloned voices")
    def delete_model(
        self, model_id: FromPath[str], caller: NamedDependency[Caller], services: NamedDependency[Services]
    ) -> None:
        services.catalog.delete(caller.owner, model_id)
