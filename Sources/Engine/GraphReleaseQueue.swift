#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-thread worklist that frees recorded autograd graphs without recursion (see `Tensor`'s
/// deinit). A node's references are parked here; only the outermost release on a thread drains
/// the list, so a node freed while draining parks its own references and returns at once. Stack
/// use stays constant whatever the graph's depth; the list grows with the graph's width.
final class GraphReleaseQueue {
    /// A freed node's references: its inputs, and its backward closure (which captures them).
    typealias Node = (inputs: [Tensor], backward: ((Tensor) -> Void)?)
    private var pending: [Node] = []
    private var draining = false

    /// Takes ownership of `node` (leaving nil, so the caller holds no reference), and drains the
    /// list unless a release further up this thread's stack is already draining it.
    func release(_ node: inout Node?) {
        guard node != nil else { return }
        pending.append(node.take()!)   // no local copy: it would outlive the drain below
        guard !draining else { return }
        draining = true
        // Each popped entry dies at the end of its iteration; a tensor freed by that parks its
        // own references here (the guard above) instead of recursing.
        while let next = pending.popLast() { withExtendedLifetime(next) {} }
        if pending.capacity > 4096 { pending = [] }   // give back what a wide graph needed
        draining = false
    }

    /// This thread's queue, made on first use and freed when the thread exits.
    static var current: GraphReleaseQueue {
        if let raw = pthread_getspecific(key) { return Unmanaged<GraphReleaseQueue>.fromOpaque(raw).takeUnretainedValue() }
        let queue = GraphReleaseQueue()
        pthread_setspecific(key, Unmanaged.passRetained(queue).toOpaque())
        return queue
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { raw in
            #if canImport(Glibc)
            guard let raw else { return }
            #endif
            Unmanaged<GraphReleaseQueue>.fromOpaque(raw).release()
        }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()
}
