namespace Analytics.LoadTests.Load;

/// <summary>
/// A site the harness created: its id, domain, IANA time zone and ingest key. It knows the site's
/// local day for any instant, as the service computes it, cheaply: time zone offsets (and their
/// changes) fall on quarter hours, so the day is cached per UTC quarter hour.
/// </summary>
internal sealed class LoadSite
{
    private static readonly long QuarterHour = TimeSpan.FromMinutes(15).Ticks;
    private DayCache _cache = new(-1, default);

    public LoadSite(string id, string timeZone, string ingestKey)
    {
        Id = id;
        TimeZone = timeZone;
        IngestKey = ingestKey;
        Zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone);
    }

    public string Id { get; }

    public string TimeZone { get; }

    public TimeZoneInfo Zone { get; }

    public string IngestKey { get; }

    /// <summary>The one domain the site is created with; pages are https://{Domain}/….</summary>
    public string Domain => DomainOf(Id);

    public static string DomainOf(string id) => id + ".example";

    public DateOnly LocalDay(DateTimeOffset instant)
    {
        var quarter = instant.UtcTicks / QuarterHour;
        var cache = _cache;
        if (cache.Quarter == quarter)
        {
            return cache.Day;
        }

        var day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, Zone).DateTime);
        _cache = new DayCache(quarter, day);
        return day;
    }

    private sealed record DayCache(long Quarter, DateOnly Day);

    /// <summary>Zones the harness gives its sites in turn, so local days differ between sites.</summary>
    public static readonly string[] Zones =
    [
        "UTC", "Europe/Istanbul", "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "America/Los_Angeles", "Asia/Tokyo", "Europe/London",
    ];
}
