/** Request bodies the API accepts, validated with zod; errors name the field that is wrong. */
import { z } from 'zod';
import { ValidationError, type FieldError } from './errors';
import { JOB_STATES } from './job';
import { TENANT_NAME } from './tenants';
import { MAX_IMAGE_BYTES } from '../store/staging';

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
/** Azure region names as ARM spells them: `westeurope`, `eastus2`, `usgovvirginia`. */
const AZURE_LOCATION = /^[a-z][a-z0-9]{2,39}$/;
/** Azure VM sizes: `Standard_D2s_v3`, `Basic_A1`, `Standard_NC24ads_A100_v4`. */
const AZURE_VM_SIZE = /^(Standard|Basic)_[A-Za-z0-9]+(_[A-Za-z0-9]+)*$/;
/**
 * Azure resource group names: 1-90 letters, digits, underscores, hyphens, periods and parentheses,
 * not ending in a period.
 */
const AZURE_RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;

export const AwsTargetRequest = z
  .object({
    cloud: z.literal('aws'),
    region: z.string().regex(REGION, 'an AWS region name such as us-east-1'),
    instanceType: z.string().regex(INSTANCE_TYPE, 'an EC2 instance type such as t3.medium'),
    /** How the disk reaches AWS; left out, inspect decides from the guest OS (README: the rule). */
    mode: z.enum(['direct', 'import']).optional(),
  })
  .strict();

export const AzureTargetRequest = z
  .object({
    cloud: z.literal('azure'),
    location: z.string().regex(AZURE_LOCATION, 'an Azure region name such as westeurope'),
    vmSize: z.string().regex(AZURE_VM_SIZE, 'an Azure VM size such as Standard_D2s_v3'),
    resourceGroup: z
      .string()
      .regex(
        AZURE_RESOURCE_GROUP,
        'an Azure resource group name: 1-90 letters, digits, _ - . ( ), not ending in a period',
      )
      .optional(),
  })
  .strict();

/** An instant with its offset (`2027-10-22T18:00:00+02:00`, `...Z`): never a local time without a zone. */
export const Instant = z.iso.datetime({
  offset: true,
  error: 'an ISO-8601 date-time with an offset, e.g. 2027-10-22T18:00:00Z',
});

/** A lease as requested (POST /offloads `lease`, PATCH /offloads/{id} `lease`); absent members keep their value. */
export const LeaseRequest = z
  .object({
    expiresAt: Instant.optional(),
    onExpiry: z.enum(['return', 'cancel']).optional(),
    /** When the VM must be home; `null` (PATCH) removes the deadline. */
    returnBy: Instant.nullable().optional(),
  })
  .strict();
export type LeaseRequest = z.infer<typeof LeaseRequest>;

export const UpdateOffloadRequest = z.object({ lease: LeaseRequest }).strict();
export type UpdateOffloadRequest = z.infer<typeof UpdateOffloadRequest>;

export const CreateOffloadRequest = z
  .object({
    vmName: z
      .string()
      .min(1)
      .max(128)
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._ -]*$/,
        'letters, digits, dot, underscore, dash and space; starts with a letter or digit',
      ),
    imageFormat: z.enum(['ova', 'vmdk', 'vhd', 'vhdx', 'raw', 'delta']),
    imageSizeBytes: z.number().int().min(1).max(MAX_IMAGE_BYTES),
    imageSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256')
      .optional(),
    target: z.discriminatedUnion('cloud', [AwsTargetRequest, AzureTargetRequest], {
      error: (issue) => (issue.code === 'invalid_union' ? 'cloud must be "aws" or "azure"' : undefined),
    }),
    callbackUrl: z.url({ protocol: /^https?$/ }).optional(),
    lease: LeaseRequest.optional(),
    /** When the staged VM launches: at an instant, or on POST /offloads/{id}/launch ("hold"). Absent: at once. */
    launch: z.union([z.literal('hold'), z.object({ at: Instant }).strict()]).optional(),
  })
  .strict();
export type CreateOffloadRequest = z.infer<typeof CreateOffloadRequest>;

export const CompleteUploadRequest = z
  .object({
    parts: z
      .array(
        z
          .object({ partNumber: z.number().int().min(1).max(10000), etag: z.string().min(1).max(1024) })
          .strict(),
      )
      .min(1)
      .max(10000),
  })
  .strict();
export type CompleteUploadRequest = z.infer<typeof CompleteUploadRequest>;

/** A tenant named in a query (`admin` keys only, for another tenant's resources). */
export const TenantName = z
  .string()
  .regex(TENANT_NAME, 'a tenant name: lower-case letters, digits and dashes, 1–63 characters');
/** The `nextCursor` of a listing's previous page, passed back as is. */
export const Cursor = z.string().min(1).max(2048);

export const ListOffloadsQuery = z
  .object({
    state: z.enum(JOB_STATES).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    cursor: Cursor.optional(),
    tenant: TenantName.optional(),
  })
  .strict();

/** The query of a lookup that an admin may make for another tenant. */
export const TenantQuery = z.object({ tenant: TenantName.optional() }).strict();

export const IdempotencyKey = z
  .string()
  .min(8)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const JobId = z.string().regex(/^job-[0-9a-z]{26}$/, 'a job id such as job-01h...');

/** Parses or throws a ValidationError listing every problem with its path. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((i) => ({
    path: i.path.length ? i.path.map(String).join('.') : '(root)',
    message: i.message,
  }));
  throw new ValidationError(
    `${what} is not valid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    errors,
  );
}
