using System.Globalization;
using Analytics.Counting;
using Analytics.Tests.Infrastructure;

namespace Analytics.BrowserTests.Infrastructure;

/// <summary>The site's counters as they are in Redis, read directly rather than through the service.</summary>
internal static class RedisCounters
{
    public static DateOnly Day(TestApp.Counts counts) => DateOnly.ParseExact(counts.Today, "yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>Normalised path → views on the day.</summary>
    public static async Task<Dictionary<string, long>> PagesAsync(Servers servers, string site, DateOnly day) =>
        (await servers.Redis.GetDatabase().HashGetAllAsync(RedisKeys.Pages(site, day)))
            .ToDictionary(e => e.Name.ToString(), e => (long)e.Value, StringComparer.Ordinal);

    /// <summary>Referrer host (or <see cref="Hit.DirectReferrer"/>) → views on the day.</summary>
    public static async Task<Dictionary<string, long>> ReferrersAsync(Servers servers, string site, DateOnly day) =>
        (await servers.Redis.GetDatabase().HashGetAllAsync(RedisKeys.Referrers(site, day)))
            .ToDictionary(e => e.Name.ToString(), e => (long)e.Value, StringComparer.Ordinal);
}
