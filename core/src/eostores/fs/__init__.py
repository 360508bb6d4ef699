"""Filesystem data stores over fsspec: file, memory, s3, https, ftp, abfs, reference."""

from .stores import FsDataStore, new_fs_data_store

__all__ = ["FsDataStore", "new_fs_data_store"]
