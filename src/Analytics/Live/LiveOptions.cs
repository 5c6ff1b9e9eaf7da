namespace Analytics.Live;

internal sealed class LiveOptions
{
    public const string Section = "Analytics:Live";

    /// <summary>Days in each pushed <c>counts</c> (the dashboard's chart; the widget shows the first few).</summary>
    public int Days { get; set; } = 30;

    /// <summary>At most one push a site this often (4 a second).</summary>
    public TimeSpan MinPushInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often watched sites are checked for their local midnight (then pushed, hits or not).</summary>
    public TimeSpan DayCheckInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Pages and referrers in each <c>pages</c> push.</summary>
    public int TopPages { get; set; } = 10;

    /// <summary>How often staff connections' credentials are checked again (a deleted user's connection closes within this).</summary>
    public TimeSpan RecheckInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Use the SignalR Redis backplane, so pushes reach clients connected to any node.</summary>
    public bool RedisBackplane { get; set; }
}
