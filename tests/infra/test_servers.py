"""The local storage servers really run, really check credentials, and are cleaned up."""

from __future__ import annotations

import json
import os
import urllib.parse
from typing import Any

import boto3
import obstore
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from obstore.store import GCSStore

import servers

MiB = 1024 * 1024


def _s3_client(server: servers.S3Server, secret: str | None = None, key: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=key or server.access_key,
        aws_secret_access_key=secret or server.secret_key,
        region_name=server.region,
        config=BotoConfig(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


# ---------------------------------------------------------------------------------------- env


def test_cloud_environment_is_scrubbed() -> None:
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    leaked = [
        name
        for name in os.environ
        if name.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION", "AWS_PROFILE", "AWS_ENDPOINT"))
        or name.startswith(("AZURE_", "GOOGLE_", "S3DLIO_"))
        or name == "STORAGE_EMULATOR_HOST"
    ]
    assert leaked == []
    assert "127.0.0.1" in os.environ["NO_PROXY"]


def test_unique_bucket_names(unique_bucket: str) -> None:
    other = servers.unique_bucket_name()
    assert unique_bucket != other
    assert 3 <= len(unique_bucket) <= 63
    assert unique_bucket == unique_bucket.lower()
    assert all(c.isalnum() or c == "-" for c in unique_bucket)


# ----------------------------------------------------------------------------------------- S3


def test_s3_put_get_list_delete_with_boto3(s3_server: servers.S3Server, unique_bucket: str) -> None:
    s3 = _s3_client(s3_server)
    s3.create_bucket(Bucket=unique_bucket)
    s3.put_object(Bucket=unique_bucket, Key="dir/a b.txt", Body=b"hello")
    assert s3.get_object(Bucket=unique_bucket, Key="dir/a b.txt")["Body"].read() == b"hello"
    listed = s3.list_objects_v2(Bucket=unique_bucket, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a b.txt"]
    ranged = s3.get_object(Bucket=unique_bucket, Key="dir/a b.txt", Range="bytes=1-3")
    assert ranged["Body"].read() == b"ell"
    s3.delete_object(Bucket=unique_bucket, Key="dir/a b.txt")
    s3.delete_bucket(Bucket=unique_bucket)


def test_s3_multipart_upload(s3_server: servers.S3Server, new_s3_bucket: str) -> None:
    s3 = _s3_client(s3_server)
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1 * MiB)]
    up = s3.create_multipart_upload(Bucket=new_s3_bucket, Key="big.bin")
    etags = [
        s3.upload_part(
            Bucket=new_s3_bucket, Key="big.bin", UploadId=up["UploadId"], PartNumber=i + 1, Body=data
        )["ETag"]
        for i, data in enumerate(parts)
    ]
    s3.complete_multipart_upload(
        Bucket=new_s3_bucket,
        Key="big.bin",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": i + 1} for i, e in enumerate(etags)]},
    )
    assert s3.get_object(Bucket=new_s3_bucket, Key="big.bin")["Body"].read() == b"".join(parts)


def test_s3_wrong_secret_is_rejected(s3_server: servers.S3Server, new_s3_bucket: str) -> None:
    s3_server.request("PUT", f"/{new_s3_bucket}/secret", body=b"1")
    bad = _s3_client(s3_server, secret="definitely-wrong")
    with pytest.raises(ClientError) as info:
        bad.get_object(Bucket=new_s3_bucket, Key="secret")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert info.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "AccessDenied")
    with pytest.raises(ClientError) as info:
        bad.put_object(Bucket=new_s3_bucket, Key="other", Body=b"x")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_s3_unknown_key_and_anonymous_are_rejected(s3_server: servers.S3Server, new_s3_bucket: str) -> None:
    unknown = _s3_client(s3_server, key="no-such-access-key")
    with pytest.raises(ClientError) as info:
        unknown.list_objects_v2(Bucket=new_s3_bucket)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert servers.http_request("GET", f"{s3_server.endpoint}/{new_s3_bucket}").status == 403
    assert servers.http_request("PUT", f"{s3_server.endpoint}/{new_s3_bucket}/x", body=b"1").status == 403


def test_s3_env_fixture_configures_clients(s3_env: servers.S3Server, new_s3_bucket: str) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == s3_env.endpoint
    assert os.environ["AWS_REGION"] == "us-east-1"
    s3 = boto3.client("s3")  # everything from the environment
    s3.put_object(Bucket=new_s3_bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=new_s3_bucket, Key="k")["Body"].read() == b"v"


def test_s3_delete_non_empty_bucket_fails_like_aws(s3_server: servers.S3Server, new_s3_bucket: str) -> None:
    s3_server.request("PUT", f"/{new_s3_bucket}/k", body=b"v")
    res = s3_server.request("DELETE", f"/{new_s3_bucket}")
    assert res.status == 409
    assert b"BucketNotEmpty" in res.body


def test_s3_many_buckets(s3_server: servers.S3Server) -> None:
    """Every bucket is a SeaweedFS collection with its own volume: many must fit."""
    names = [servers.unique_bucket_name() for _ in range(25)]
    try:
        for name in names:
            s3_server.create_bucket(name)
            for i in range(3):
                assert s3_server.request("PUT", f"/{name}/obj{i}", body=os.urandom(4096)).status == 200
        for name in names:
            assert len(s3_server.list_keys(name)) == 3
    finally:
        for name in names:
            s3_server.delete_bucket(name, force=True)


# -------------------------------------------------------------------------------------- Azure


def test_azure_shared_key_round_trip(azure_server: servers.AzureServer, new_azure_container: str) -> None:
    path = f"/{new_azure_container}/dir/blob 1.bin"
    put = azure_server.request("PUT", path, body=b"payload", headers={"x-ms-blob-type": "BlockBlob"})
    assert put.status == 201, put.body
    got = azure_server.request("GET", path)
    assert (got.status, got.body) == (200, b"payload")
    listed = azure_server.request(
        "GET", f"/{new_azure_container}", query={"restype": "container", "comp": "list"}
    )
    assert listed.status == 200
    assert b"<Name>dir/blob 1.bin</Name>" in listed.body


def test_azure_wrong_key_and_anonymous_are_rejected(
    azure_server: servers.AzureServer, new_azure_container: str
) -> None:
    path = f"/{new_azure_container}/x"
    azure_server.request("PUT", path, body=b"1", headers={"x-ms-blob-type": "BlockBlob"})
    wrong = azure_server.request("GET", path, key="d3Jvbmcta2V5LXdyb25nLWtleQ==")
    assert wrong.status == 403
    assert servers.http_request("GET", azure_server.endpoint + path).status in (401, 403, 404)


def test_azure_env_fixture(azure_env: servers.AzureServer) -> None:
    assert os.environ["AZURE_STORAGE_ACCOUNT"] == "devstoreaccount1"
    assert os.environ["AZURE_STORAGE_KEY"] == servers.AZURE_KEY
    conn = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    assert f"BlobEndpoint={azure_env.endpoint};" in conn
    assert azure_env.endpoint.startswith("http://127.0.0.1:")


# ---------------------------------------------------------------------------------------- GCS


def _gcs_store(server: servers.GCSServer, bucket: str) -> GCSStore:
    return GCSStore(
        bucket,
        service_account_key=server.service_account_key(),
        client_options={"allow_http": True},
    )


def test_gcs_json_api(gcs_server: servers.GCSServer, new_gcs_bucket: str) -> None:
    res = servers.http_request("GET", f"{gcs_server.endpoint}/storage/v1/b")
    assert res.status == 200
    assert new_gcs_bucket in [b["name"] for b in res.json()["items"]]
    q = urllib.parse.urlencode({"uploadType": "media", "name": "a/b.txt"})
    up = servers.http_request(
        "POST", f"{gcs_server.endpoint}/upload/storage/v1/b/{new_gcs_bucket}/o?{q}", body=b"json-upload"
    )
    assert up.status == 200
    assert up.json()["size"] == "11"


def test_gcs_obstore_through_xml_shim(gcs_server: servers.GCSServer, new_gcs_bucket: str) -> None:
    """obstore's GCS client (XML API) works against the emulator with no credential lookup."""
    store = _gcs_store(gcs_server, new_gcs_bucket)
    obstore.put(store, "a/x.bin", b"hello")
    assert bytes(obstore.get(store, "a/x.bin").bytes()) == b"hello"
    assert bytes(obstore.get_range(store, "a/x.bin", start=1, end=3)) == b"el"
    assert obstore.head(store, "a/x.bin")["size"] == 5
    big = os.urandom(12 * MiB + 7)
    obstore.put(store, "big.bin", big, chunk_size=5 * MiB)  # XML multipart upload
    assert bytes(obstore.get(store, "big.bin").bytes()) == big
    obstore.copy(store, "a/x.bin", "a/y.bin")
    with pytest.raises(obstore.exceptions.AlreadyExistsError):
        obstore.put(store, "a/y.bin", b"again", mode="create")
    listed = sorted(m["path"] for m in obstore.list(store).collect())
    assert listed == ["a/x.bin", "a/y.bin", "big.bin"]
    assert obstore.list_with_delimiter(store)["common_prefixes"] == ["a"]
    obstore.delete(store, "a/x.bin")
    with pytest.raises(FileNotFoundError):
        obstore.head(store, "a/x.bin")


def test_gcs_env_fixture(gcs_env: servers.GCSServer) -> None:
    assert os.environ["STORAGE_EMULATOR_HOST"] == gcs_env.endpoint
    assert json.loads(gcs_env.service_account_key())["gcs_base_url"] == gcs_env.endpoint


def test_fake_gcs_without_shim_rejects_xml_uploads(
    gcs_server: servers.GCSServer, new_gcs_bucket: str
) -> None:
    """Why the shim exists: fake-gcs-server 1.54 refuses XML-API uploads (kept to notice a fix)."""
    res = servers.http_request("PUT", f"{gcs_server.fake_gcs_endpoint}/{new_gcs_bucket}/obj", body=b"1")
    assert res.status == 400
    assert b"invalid uploadType" in res.body


# ----------------------------------------------------------------------------------- lifecycle


def test_stop_kills_the_process_group_and_frees_the_port() -> None:
    server = servers.start_fake_gcs()
    pids = [server.process.pid]
    assert server.shim_process is not None
    pids.append(server.shim_process.pid)
    server.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    assert servers._probe_status(server.endpoint + "/storage/v1/b", timeout=0.5) is None
    assert not server.process.workdir.exists()


def test_gcs_xml_not_found_errors_name_the_cause(gcs_server: servers.GCSServer, new_gcs_bucket: str) -> None:
    """Like GCS's XML API, the shim says NoSuchBucket or NoSuchKey (fake-gcs says only Not Found)."""
    missing_key = servers.http_request("GET", f"{gcs_server.endpoint}/{new_gcs_bucket}/nope")
    assert missing_key.status == 404
    assert b"<Code>NoSuchKey</Code>" in missing_key.body
    missing_bucket = servers.http_request("GET", f"{gcs_server.endpoint}/no-such-bucket-xyz/k")
    assert missing_bucket.status == 404
    assert b"<Code>NoSuchBucket</Code>" in missing_bucket.body
    listing = servers.http_request("GET", f"{gcs_server.endpoint}/no-such-bucket-xyz?list-type=2")
    assert listing.status == 404
    assert b"<Code>NoSuchBucket</Code>" in listing.body
    store = _gcs_store(gcs_server, "no-such-bucket-xyz")
    with pytest.raises(FileNotFoundError, match="NoSuchBucket"):
        obstore.get(store, "k")
