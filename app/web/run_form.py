"""An experiment's run form, built from its parameter schema (JSON Schema from pydantic), and
the parsing of what the form sends back into `params` overrides.

An empty field keeps the chosen preset's value; a filled one overrides it. Lists are typed
as comma-separated numbers; `none` clears an optional value."""

from dataclasses import dataclass, field
from typing import Any

from app.core.errors import InvalidInput


@dataclass
class Field:
    name: str
    label: str
    kind: str  # integer | number | enum | boolean | list:integer | list:number
    description: str
    options: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    presets: dict[str, Any] = field(default_factory=dict)  # preset name → its value

    @property
    def placeholder(self) -> str:
        return " · ".join(f"{name}: {show(value)}" for name, value in self.presets.items())


def show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return (
        "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


def _kind(spec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The non-null alternative of an optional field, and whether null is allowed."""
    options = spec.get("anyOf")
    if not options:
        return spec, False
    concrete = [o for o in options if o.get("type") != "null"]
    return {**spec, **concrete[0]}, len(concrete) < len(options)


def fields(schema: dict[str, Any], presets: dict[str, dict[str, Any]]) -> list[Field]:
    out = []
    for name, raw in schema.get("properties", {}).items():
        spec, nullable = _kind(raw)
        kind = spec.get("type", "string")
        bounds = spec
        if kind == "array":
            bounds = spec.get("items", {})
            kind = f"list:{bounds.get('type', 'number')}"
        elif "enum" in spec:
            kind = "enum"
        out.append(
            Field(
                name=name,
                label=spec.get("title", name),
                kind=kind,
                description=spec.get("description", ""),
                options=[str(o) for o in spec.get("enum", [])],
                minimum=bounds.get("minimum"),
                maximum=bounds.get("maximum"),
                nullable=nullable,
                presets={p: values.get(name) for p, values in presets.items()},
            )
        )
    return out


def _scalar(text: str, kind: str, name: str) -> int | float:
    try:
        return int(text) if kind == "integer" else float(text)
    except ValueError:
        expected = "a whole number" if kind == "integer" else "a number"
        raise InvalidInput(
            f"params.{name}: '{text}' is not {expected}", field=f"params.{name}"
        ) from None


def parse(form_fields: list[Field], sent: dict[str, str]) -> dict[str, Any]:
    """The overrides the form asks for (only the filled fields). Bounds are checked by the
    experiment's own model afterwards, which names the field in its 422."""
    params: dict[str, Any] = {}
    for f in form_fields:
        text = (sent.get(f.name) or "").strip()
        if not text:
            continue
        if f.nullable and text.lower() == "none":
            params[f.name] = None
        elif f.kind.startswith("list:"):
            item_kind = f.kind.split(":", 1)[1]
            params[f.name] = [
                _scalar(t.strip(), item_kind, f.name) for t in text.split(",") if t.strip()
            ]
        elif f.kind == "boolean":
            if text not in ("true", "false"):
                raise InvalidInput(
                    f"params.{f.name}: choose true or false", field=f"params.{f.name}"
                )
            params[f.name] = text == "true"
        elif f.kind == "enum":
            if text not in f.options:
                raise InvalidInput(
                    f"params.{f.name}: choose one of {', '.join(f.options)}",
                    field=f"params.{f.name}",
                )
            params[f.name] = text
        else:
            params[f.name] = _scalar(text, f.kind, f.name)
    return params
