using Analytics.Counting;
using ClickHouse.Driver.ADO.Parameters;

namespace Analytics.ClickHouse;

internal static class QueryParameters
{
    /// <summary><c>{site:String}</c>, <c>{from:Date}</c> and <c>{to:Date}</c> for the daily tables.</summary>
    public static ClickHouseParameterCollection SiteDays(string site, DateOnly from, DateOnly to) =>
    [
        new ClickHouseDbParameter { ParameterName = "site", Value = site },
        new ClickHouseDbParameter { ParameterName = "from", Value = RedisKeys.Date(from) },
        new ClickHouseDbParameter { ParameterName = "to", Value = RedisKeys.Date(to) },
    ];
}
