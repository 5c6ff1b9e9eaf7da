using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;

namespace Analytics.ClickHouse;

/// <summary>
/// Versioned migrations of database <c>analytics</c>. Each runs once (recorded in
/// <c>schema_migrations</c>) and is idempotent in itself, so two nodes starting together are fine.
///
/// The daily tables hold absolute values in <c>ReplacingMergeTree(version)</c> where version is the
/// view count itself: counters only grow, so the row with the highest version is the newest and
/// a rollup re-run, a late retry or a second node writing the same day never double-counts.
/// Read with FINAL (or argMax). On a cluster run the same DDL with ON CLUSTER and put Distributed
/// tables over them (see README).
/// </summary>
internal static class Schema
{
    public const string Database = "analytics";

    private static readonly (int Version, string Name, string[] Statements)[] Migrations =
    [
        (1, "daily tables",
        [
            """
            CREATE TABLE IF NOT EXISTS analytics.daily_site
            (
                site LowCardinality(String),
                date Date,
                views UInt64,
                visitors UInt64,
                version UInt64
            )
            ENGINE = ReplacingMergeTree(version)
            PARTITION BY toYYYYMM(date)
            ORDER BY (site, date)
            """,
            """
            CREATE TABLE IF NOT EXISTS analytics.daily_page
            (
                site LowCardinality(String),
                date Date,
                path String,
                views UInt64,
                version UInt64
            )
            ENGINE = ReplacingMergeTree(version)
            PARTITION BY toYYYYMM(date)
            ORDER BY (site, date, path)
            """,
            """
            CREATE TABLE IF NOT EXISTS analytics.daily_referrer
            (
                site LowCardinality(String),
                date Date,
                referrer String,
                views UInt64,
                version UInt64
            )
            ENGINE = ReplacingMergeTree(version)
            PARTITION BY toYYYYMM(date)
            ORDER BY (site, date, referrer)
            """,
        ]),
    ];

    public static async Task MigrateAsync(ClickHouseClient client, ILogger logger, CancellationToken cancellationToken)
    {
        await client.ExecuteNonQueryAsync($"CREATE DATABASE IF NOT EXISTS {Database}", cancellationToken: cancellationToken);
        await client.ExecuteNonQueryAsync($"""
            CREATE TABLE IF NOT EXISTS {Database}.schema_migrations
            (version UInt32, name String, applied_at DateTime DEFAULT now())
            ENGINE = ReplacingMergeTree ORDER BY version
            """, cancellationToken: cancellationToken);

        foreach (var (version, name, statements) in Migrations)
        {
            var parameters = new ClickHouseParameterCollection { new ClickHouseDbParameter { ParameterName = "version", Value = (uint)version } };
            var applied = Convert.ToUInt64(await client.ExecuteScalarAsync(
                $"SELECT count() FROM {Database}.schema_migrations WHERE version = {{version:UInt32}}", parameters, cancellationToken: cancellationToken),
                System.Globalization.CultureInfo.InvariantCulture);
            if (applied > 0)
            {
                continue;
            }

            foreach (var statement in statements)
            {
                await client.ExecuteNonQueryAsync(statement, cancellationToken: cancellationToken);
            }

            var record = new ClickHouseParameterCollection
            {
                new ClickHouseDbParameter { ParameterName = "version", Value = (uint)version },
                new ClickHouseDbParameter { ParameterName = "name", Value = name },
            };
            await client.ExecuteNonQueryAsync($"INSERT INTO {Database}.schema_migrations (version, name) VALUES ({{version:UInt32}}, {{name:String}})", record, cancellationToken: cancellationToken);
            logger.LogInformation("Applied ClickHouse migration {Version}: {Name}.", version, name);
        }
    }
}
