/**
 * Tenants' monthly budgets in the jobs table: `pk = BUDGET#<tenant>`, `sk = BUDGET`, one item per
 * tenant. A PUT replaces the whole budget (the same PUT again changes nothing), so a plain write
 * is right; the item keeps when it changed and how often.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface Budget {
  tenant: string;
  /** USD per calendar month (UTC). */
  monthlyUsd: number;
  /** `hard`: an offload whose estimate would pass what is left is refused; `soft`: it goes on. */
  mode: 'hard' | 'soft';
  /** Percentages of the month's budget at which an alert goes out, ascending. */
  thresholds: number[];
  updatedAt: string;
  version: number;
}

const SK = 'BUDGET';
const keyOf = (tenant: string) => ({ pk: `BUDGET#${tenant}`, sk: SK });

export class BudgetStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async find(tenant: string): Promise<Budget | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: keyOf(tenant), ConsistentRead: true }),
    );
    return (out.Item as { budget: Budget } | undefined)?.budget;
  }

  async put(budget: Budget): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: { ...keyOf(budget.tenant), budget } }));
  }
}
