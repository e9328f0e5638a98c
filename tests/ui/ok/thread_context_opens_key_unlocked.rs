// The twin of ../thread_context_opens_key_unlocked.rs: the context is locked first.
fn work(tsc: rm::ThreadSafeContext, name: &rm::RStr) {
    let locked = tsc.lock();
    let _key = locked.open_key(name);
}

fn main() {
    let _ = work;
}
