"""Store parameter schemas of the filesystem stores, per protocol."""

from __future__ import annotations

from typing import Any

#: Protocol -> the store id registered for it.
STORE_IDS = {
    "file": "file",
    "memory": "memory",
    "s3": "s3",
    "https": "https",
    "http": "https",
    "ftp": "ftp",
    "abfs": "abfs",
    "reference": "reference",
}


def storage_options_schema(protocol: str) -> Any:
    from ..schema import (
        JsonBooleanSchema,
        JsonIntegerSchema,
        JsonNumberSchema,
        JsonObjectSchema,
        JsonStringSchema,
    )

    common = dict(
        use_listings_cache=JsonBooleanSchema(title="Cache directory listings"),
        listings_expiry_time=JsonNumberSchema(minimum=0, title="Listing cache lifetime, s"),
        max_paths=JsonIntegerSchema(minimum=0, title="Maximum number of cached listings"),
        skip_instance_cache=JsonBooleanSchema(title="Do not reuse filesystem instances"),
        asynchronous=JsonBooleanSchema(title="Create an asynchronous filesystem"),
    )
    secret = dict(description="A secret: never shown in reprs, logs or errors.")
    extra: dict[str, Any] = {}
    if protocol == "file":
        extra = dict(
            auto_mkdir=JsonBooleanSchema(
                default=True, title="Create parent directories when writing"
            )
        )
    elif protocol == "s3":
        extra = dict(
            anon=JsonBooleanSchema(title="Connect anonymously"),
            key=JsonStringSchema(title="Access key id", **secret),
            secret=JsonStringSchema(title="Secret access key", **secret),
            token=JsonStringSchema(title="Session token", **secret),
            endpoint_url=JsonStringSchema(title="S3 endpoint URL (S3-compatible services)"),
            use_ssl=JsonBooleanSchema(title="Use TLS"),
            requester_pays=JsonBooleanSchema(title="Requester pays"),
            s3_additional_kwargs=JsonObjectSchema(additional_properties=True),
            client_kwargs=JsonObjectSchema(
                additional_properties=True,
                title="botocore client parameters",
                description="e.g. {'endpoint_url': ..., 'region_name': ...}",
            ),
            config_kwargs=JsonObjectSchema(additional_properties=True),
            default_block_size=JsonIntegerSchema(minimum=1),
            default_fill_cache=JsonBooleanSchema(),
            default_cache_type=JsonStringSchema(),
            profile=JsonStringSchema(title="AWS profile name"),
        )
    elif protocol == "abfs":
        extra = dict(
            anon=JsonBooleanSchema(title="Connect anonymously"),
            account_name=JsonStringSchema(title="Storage account name"),
            account_key=JsonStringSchema(title="Storage account key", **secret),
            connection_string=JsonStringSchema(title="Connection string", **secret),
            sas_token=JsonStringSchema(title="Shared access signature", **secret),
            account_host=JsonStringSchema(title="Account host (e.g. an emulator)"),
        )
    elif protocol == "ftp":
        extra = dict(
            host=JsonStringSchema(title="Server name or address"),
            port=JsonIntegerSchema(minimum=0, maximum=65535, default=21),
            username=JsonStringSchema(title="User name"),
            password=JsonStringSchema(title="Password", **secret),
            timeout=JsonNumberSchema(minimum=0, title="Timeout, s"),
            tls=JsonBooleanSchema(title="Use FTP over TLS"),
        )
    elif protocol in ("https", "http"):
        # Files are read by range requests through the store's eostores.http session,
        # whose settings are store parameters of their own.
        common = {}
        extra = dict(
            headers=JsonObjectSchema(
                additional_properties=JsonStringSchema(), title="Extra request headers"
            ),
            block_size=JsonIntegerSchema(
                minimum=1, title="Bytes fetched at least per range request"
            ),
        )
    properties = {**common, **extra}
    return JsonObjectSchema(
        properties=properties,
        additional_properties=False,
        title="Filesystem options",
        description=f"Options of the fsspec '{protocol}' filesystem.",
    )


def store_params_schema(protocol: str, **extra_properties: Any) -> Any:
    from ..schema import (
        JsonArraySchema,
        JsonBooleanSchema,
        JsonComplexSchema,
        JsonIntegerSchema,
        JsonObjectSchema,
        JsonStringSchema,
    )

    def patterns(title: str) -> Any:
        return JsonComplexSchema(
            any_of=[JsonStringSchema(), JsonArraySchema(items=JsonStringSchema())], title=title
        )

    properties = dict(
        root=JsonStringSchema(default="", title="Root directory or URL of the store"),
        max_depth=JsonIntegerSchema(
            minimum=1,
            nullable=True,
            default=1,
            title="Directory depth searched for data; null for unlimited",
        ),
        read_only=JsonBooleanSchema(default=False, title="Refuse writes and deletes"),
        includes=patterns("Only data ids matching these patterns (* and ?)"),
        excludes=patterns("Leave out data ids matching these patterns"),
        storage_options=storage_options_schema(protocol),
    )
    properties.update(extra_properties)
    return JsonObjectSchema(properties=properties, additional_properties=False)
