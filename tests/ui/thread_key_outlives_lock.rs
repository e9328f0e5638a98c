// A key opened under the lock cannot outlive it (src/thread.rs).
fn work(tsc: rm::ThreadSafeContext, name: &rm::RStr) {
    let locked = tsc.lock();
    let key = locked.open_key(name);
    drop(locked);
    key.len();
}

fn main() {
    let _ = work;
}
