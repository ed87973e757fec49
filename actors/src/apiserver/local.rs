//! [`LocalApiClient`]: the [`ApiClient`] for components in the process that
//! holds the store client, a cheap cloneable handle on the [`Storage`] layer
//! (no serialization, no hop through a mailbox: each call runs on the
//! caller's task).

use futures::future::BoxFuture;
use futures::FutureExt;

use super::client::{
    ApiClient, DeleteOptions, DeleteOutcome, GetOptions, JsonList, ListOptions, ObjectList, Patch,
    PatchOptions, WatchOptions, WatchStream, WriteOptions,
};
use super::error::ApiResult;
use super::storage::Storage;
use crate::api::object::ResourceInfo;
use crate::api::{Object, Scale};

/// The in-process API client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LocalApiClient {
    storage: Storage,
}

impl LocalApiClient {
    /// A client over `storage`.
    pub fn new(storage: Storage) -> Self {
        LocalApiClient { storage }
    }

    /// The storage layer underneath.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
}

impl ApiClient for LocalApiClient {
    fn get<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        opts: GetOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        async move { self.storage.get(resource, namespace, name, &opts).await }.boxed()
    }

    fn list<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        opts: ListOptions,
    ) -> BoxFuture<'a, ApiResult<ObjectList>> {
        async move { self.storage.list(resource, namespace, &opts).await }.boxed()
    }

    fn list_json<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        opts: ListOptions,
    ) -> BoxFuture<'a, ApiResult<JsonList>> {
        async move { self.storage.list_json(resource, namespace, &opts).await }.boxed()
    }

    fn watch<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        opts: WatchOptions,
    ) -> BoxFuture<'a, ApiResult<WatchStream>> {
        async move { self.storage.watch(resource, namespace, &opts).await }.boxed()
    }

    fn create<'a>(
        &'a self,
        object: Object,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        async move { self.storage.create(object, &opts).await }.boxed()
    }

    fn update<'a>(
        &'a self,
        object: Object,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        async move { self.storage.update(object, &opts).await }.boxed()
    }

    fn update_status<'a>(
        &'a self,
        object: Object,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        async move { self.storage.update_status(object, &opts).await }.boxed()
    }

    fn patch<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        patch: Patch,
        opts: PatchOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        async move {
            self.storage
                .patch(resource, namespace, name, &patch, &opts)
                .await
        }
        .boxed()
    }

    fn delete<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        opts: DeleteOptions,
    ) -> BoxFuture<'a, ApiResult<DeleteOutcome>> {
        async move { self.storage.delete(resource, namespace, name, &opts).await }.boxed()
    }

    fn delete_collection<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        list_opts: ListOptions,
        opts: DeleteOptions,
    ) -> BoxFuture<'a, ApiResult<ObjectList>> {
        async move {
            self.storage
                .delete_collection(resource, namespace, &list_opts, &opts)
                .await
        }
        .boxed()
    }

    fn get_scale<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, ApiResult<Scale>> {
        async move { self.storage.get_scale(resource, namespace, name).await }.boxed()
    }

    fn update_scale<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        scale: Scale,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Scale>> {
        async move {
            self.storage
                .update_scale(resource, namespace, name, &scale, &opts)
                .await
        }
        .boxed()
    }
}
