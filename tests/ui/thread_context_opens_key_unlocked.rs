// A thread-safe context offers no keyspace method until locked (src/thread.rs).
fn work(tsc: rm::ThreadSafeContext, name: &rm::RStr) {
    let _key = tsc.open_key(name);
}

fn main() {
    let _ = work;
}
