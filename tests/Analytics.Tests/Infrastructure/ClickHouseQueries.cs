using System.Globalization;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;

namespace Analytics.Tests.Infrastructure;

/// <summary>What ClickHouse holds for a site, read with FINAL as users are told to.</summary>
internal static class ClickHouseQueries
{
    public static async Task<Dictionary<string, (long Views, long Visitors)>> DaysAsync(this ClickHouseClient client, string site)
    {
        var result = new Dictionary<string, (long, long)>();
        await foreach (var row in RowsAsync(client, "SELECT toString(date), views, visitors FROM analytics.daily_site FINAL WHERE site = {site:String}", site))
        {
            result[(string)row[0]] = (Convert.ToInt64(row[1], CultureInfo.InvariantCulture), Convert.ToInt64(row[2], CultureInfo.InvariantCulture));
        }

        return result;
    }

    public static async Task<Dictionary<(string Date, string Key), long>> BreakdownAsync(this ClickHouseClient client, string site, string table, string column)
    {
        var result = new Dictionary<(string, string), long>();
        await foreach (var row in RowsAsync(client, $"SELECT toString(date), {column}, views FROM analytics.{table} FINAL WHERE site = {{site:String}}", site))
        {
            result[((string)row[0], (string)row[1])] = Convert.ToInt64(row[2], CultureInfo.InvariantCulture);
        }

        return result;
    }

    public static async Task<long> ScalarAsync(this ClickHouseClient client, string sql, string site)
    {
        var parameters = new ClickHouseParameterCollection { new ClickHouseDbParameter { ParameterName = "site", Value = site } };
        return Convert.ToInt64(await client.ExecuteScalarAsync(sql, parameters), CultureInfo.InvariantCulture);
    }

    private static async IAsyncEnumerable<object[]> RowsAsync(ClickHouseClient client, string sql, string site)
    {
        var parameters = new ClickHouseParameterCollection { new ClickHouseDbParameter { ParameterName = "site", Value = site } };
        using var reader = await client.ExecuteReaderAsync(sql, parameters);
        while (await reader.ReadAsync())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            yield return row;
        }
    }
}
