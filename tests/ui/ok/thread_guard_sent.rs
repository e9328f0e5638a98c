// The twin of ../thread_guard_sent.rs: the context is sent, and the thread takes the lock.
fn work(tsc: rm::ThreadSafeContext) {
    std::thread::scope(|s| {
        s.spawn(move || drop(tsc.lock()));
    });
}

fn main() {
    let _ = work;
}
