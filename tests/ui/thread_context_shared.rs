// A thread-safe context cannot be shared between threads, only moved to one (src/thread.rs).
fn work(tsc: rm::ThreadSafeContext) {
    std::thread::scope(|s| {
        s.spawn(|| drop(tsc.lock()));
        s.spawn(|| drop(tsc.lock()));
    });
}

fn main() {
    let _ = work;
}
