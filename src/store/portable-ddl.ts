/**
 * A Kysely plugin that rewrites the migrations' SQLite column types for PostgreSQL (see
 * ./postgres.ts): an auto-increment integer key → bigserial, integer → bigint, blob → bytea.
 * Only DDL nodes carry column definitions, so queries pass through unchanged.
 */
import {
  ColumnDefinitionNode, DataTypeNode, OperationNodeTransformer, RawNode,
  type KyselyPlugin, type OperationNode, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow,
} from 'kysely';

function typeName(node: OperationNode): string | undefined {
  if (DataTypeNode.is(node)) return node.dataType;
  if (RawNode.is(node) && node.parameters.length === 0 && node.sqlFragments.length === 1) return node.sqlFragments[0]?.trim().toLowerCase();
  return undefined;
}

class DdlTransformer extends OperationNodeTransformer {
  protected override transformColumnDefinition(node: ColumnDefinitionNode): ColumnDefinitionNode {
    const n = super.transformColumnDefinition(node);
    const type = typeName(n.dataType);
    if (type === 'integer' && n.autoIncrement) return { ...n, dataType: DataTypeNode.create('bigserial'), autoIncrement: false };
    if (type === 'integer') return { ...n, dataType: DataTypeNode.create('bigint') };
    if (type === 'blob') return { ...n, dataType: DataTypeNode.create('bytea') };
    return n;
  }
}

export class PortableDdl implements KyselyPlugin {
  readonly #t = new DdlTransformer();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#t.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
