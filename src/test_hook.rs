//! [`TestHook`]: a function that unit tests install at a chosen point of the engine's code, to
//! force an interleaving (a pause) or inject a fault (a panic). Compiled only for tests.

use std::sync::{Arc, Mutex, MutexGuard};

/// A function that tests install to run at a chosen point of the engine's code (see its uses).
#[derive(Default)]
pub(crate) struct TestHook(Mutex<Option<Arc<dyn Fn() + Send + Sync>>>);

impl TestHook {
    fn lock(&self) -> MutexGuard<'_, Option<Arc<dyn Fn() + Send + Sync>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set(&self, hook: impl Fn() + Send + Sync + 'static) {
        *self.lock() = Some(Arc::new(hook));
    }

    pub fn clear(&self) {
        *self.lock() = None;
    }

    pub fn call(&self) {
        let hook = self.lock().clone();
        if let Some(hook) = hook {
            hook();
        }
    }
}
