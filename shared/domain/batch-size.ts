/** The guide's batch size; set-based writes go faster with larger pages (500-1000). */
export const defaultBatchSize = 100;
