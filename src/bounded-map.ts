/**
 * Keeps an insertion-ordered Map at no more than `max` entries by dropping its oldest (first
 * inserted) keys. `drop` removes one key — by default `map.delete`; pass one that also cleans what
 * the key indexes elsewhere. A Map kept in LRU order re-inserts a key on use (delete + set) so that it
 * moves to the end. Stops if `drop` leaves the map's size unchanged, so a wrong `drop` cannot spin.
 */
export function dropOldest<K, V>(map: Map<K, V>, max: number, drop: (key: K) => void = (key) => map.delete(key)): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done === true) return;
    const size = map.size;
    drop(oldest.value);
    if (map.size === size) return;
  }
}
