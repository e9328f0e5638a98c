// The twin of ../thread_key_outlives_lock.rs: the key is used before the lock is released.
fn work(tsc: rm::ThreadSafeContext, name: &rm::RStr) {
    let locked = tsc.lock();
    let key = locked.open_key(name);
    key.len();
    drop(key);
    drop(locked);
}

fn main() {
    let _ = work;
}
