import { defineConfig } from 'prisma/config';

// DATABASE_URL is read lazily by the commands that need a database; `prisma generate` does not.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
});
