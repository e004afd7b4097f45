/**
 * The `capacity` first items of a stream in a given order, kept while the
 * stream goes by: a max-heap whose root is the item that would go next, so
 * memory stays at `capacity` items however long the stream is.
 */
export class KeepFirst<T> {
  private readonly heap: T[] = []

  constructor(
    private readonly capacity: number,
    /** Negative when `a` comes before `b`. */
    private readonly compare: (a: T, b: T) => number,
  ) {}

  add(item: T): void {
    if (this.capacity <= 0) return
    if (this.capacity === Number.POSITIVE_INFINITY) {
      this.heap.push(item) // everything is kept: order once, in drain()
    } else if (this.heap.length < this.capacity) {
      this.heap.push(item)
      this.siftUp(this.heap.length - 1)
    } else if (this.compare(item, this.heap[0]) < 0) {
      this.heap[0] = item
      this.siftDown(0)
    }
  }

  get size(): number {
    return this.heap.length
  }

  /** The items kept, in order; the heap is left empty. */
  drain(): T[] {
    const items = this.heap.splice(0, this.heap.length)
    return items.sort(this.compare)
  }

  private siftUp(position: number): void {
    let child = position
    while (child > 0) {
      const parent = (child - 1) >> 1
      if (this.compare(this.heap[child], this.heap[parent]) <= 0) return
      this.swap(child, parent)
      child = parent
    }
  }

  private siftDown(position: number): void {
    let parent = position
    for (;;) {
      const left = 2 * parent + 1
      const right = left + 1
      let largest = parent
      if (left < this.heap.length && this.compare(this.heap[left], this.heap[largest]) > 0) largest = left
      if (right < this.heap.length && this.compare(this.heap[right], this.heap[largest]) > 0) largest = right
      if (largest === parent) return
      this.swap(parent, largest)
      parent = largest
    }
  }

  private swap(a: number, b: number): void {
    const item = this.heap[a]
    this.heap[a] = this.heap[b]
    this.heap[b] = item
  }
}
