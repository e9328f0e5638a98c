// The lock guard cannot be sent to another thread: the thread that took it releases it
// (src/thread.rs).
fn work(tsc: rm::ThreadSafeContext) {
    let locked = tsc.lock();
    std::thread::scope(|s| {
        s.spawn(move || drop(locked));
    });
}

fn main() {
    let _ = work;
}
