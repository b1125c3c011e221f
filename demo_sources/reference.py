"""Static reference data of the demo world: regions, names, banks, channels, screens, devices.

Everything here is fictional except the PRC administrative region codes and bank card BIN prefixes,
which are real so that ID numbers and card numbers look and validate like real ones.
"""

from __future__ import annotations

# (region code, province, city, weight): the 6-digit code opens every 18-digit resident ID number.
REGIONS: list[tuple[str, str, str, float]] = [
    ("110101", "北京市", "北京市", 3.0),
    ("110105", "北京市", "北京市", 4.0),
    ("110108", "北京市", "北京市", 4.0),
    ("120101", "天津市", "天津市", 1.5),
    ("310101", "上海市", "上海市", 3.0),
    ("310104", "上海市", "上海市", 3.0),
    ("310115", "上海市", "上海市", 5.0),
    ("320102", "江苏省", "南京市", 2.0),
    ("320506", "江苏省", "苏州市", 2.5),
    ("320211", "江苏省", "无锡市", 1.2),
    ("330102", "浙江省", "杭州市", 2.0),
    ("330106", "浙江省", "杭州市", 2.5),
    ("330203", "浙江省", "宁波市", 1.5),
    ("340104", "安徽省", "合肥市", 1.2),
    ("350203", "福建省", "厦门市", 1.2),
    ("350102", "福建省", "福州市", 1.0),
    ("370102", "山东省", "济南市", 1.2),
    ("370202", "山东省", "青岛市", 1.3),
    ("410105", "河南省", "郑州市", 1.5),
    ("420106", "湖北省", "武汉市", 1.5),
    ("420111", "湖北省", "武汉市", 1.2),
    ("430104", "湖南省", "长沙市", 1.4),
    ("440103", "广东省", "广州市", 1.5),
    ("440106", "广东省", "广州市", 3.0),
    ("440304", "广东省", "深圳市", 3.0),
    ("440305", "广东省", "深圳市", 3.5),
    ("441900", "广东省", "东莞市", 1.5),
    ("440604", "广东省", "佛山市", 1.2),
    ("500103", "重庆市", "重庆市", 1.8),
    ("510104", "四川省", "成都市", 1.5),
    ("510107", "四川省", "成都市", 1.8),
    ("610113", "陕西省", "西安市", 1.5),
    ("210102", "辽宁省", "沈阳市", 1.0),
    ("210202", "辽宁省", "大连市", 0.9),
    ("230103", "黑龙江省", "哈尔滨市", 0.8),
    ("220102", "吉林省", "长春市", 0.6),
    ("130102", "河北省", "石家庄市", 0.9),
    ("140105", "山西省", "太原市", 0.6),
    ("360102", "江西省", "南昌市", 0.7),
    ("450103", "广西壮族自治区", "南宁市", 0.6),
    ("530102", "云南省", "昆明市", 0.7),
    ("520102", "贵州省", "贵阳市", 0.5),
    ("620102", "甘肃省", "兰州市", 0.4),
    ("650102", "新疆维吾尔自治区", "乌鲁木齐市", 0.4),
    ("460106", "海南省", "海口市", 0.4),
    ("150102", "内蒙古自治区", "呼和浩特市", 0.4),
]

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_MALE = list("伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣晨阳博文东亮志峰建国")
GIVEN_FEMALE = list("芳娜敏静丽艳娟霞秀燕玲桂丹萍红琳雪慧婷倩颖琴云莉蕾洁璐佳悦欣怡晶梅兰月婉瑶雯思")

EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com", "foxmail.com"]
# Real 11-digit mobile prefixes (China Mobile / Unicom / Telecom / virtual operators).
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "170",
    "171",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]

# (bank name, BIN prefix, card number length)
BANKS: list[tuple[str, str, int]] = [
    ("中国工商银行", "622202", 19),
    ("中国建设银行", "621700", 19),
    ("中国农业银行", "622848", 19),
    ("中国银行", "621660", 19),
    ("招商银行", "621483", 16),
    ("交通银行", "622262", 19),
    ("中国邮政储蓄银行", "621799", 19),
    ("兴业银行", "622909", 18),
    ("浦发银行", "621792", 16),
    ("平安银行", "623058", 19),
]
BANK_WEIGHTS = [18, 16, 12, 10, 14, 6, 6, 6, 6, 6]

PLATFORMS = ["ios", "android", "web", "h5", "wechat_mp"]
APP_PLATFORMS = {0, 1}  # indices of ios / android in PLATFORMS
# Platform share of persons by whether they were acquired inside the window.
PLATFORM_WEIGHTS_NEW = [0.30, 0.40, 0.08, 0.10, 0.12]
PLATFORM_WEIGHTS_OLD = [0.35, 0.45, 0.08, 0.04, 0.08]
# Account / order channel of a platform (trade system and CRM vocabulary).
PLATFORM_CHANNEL = ["app", "app", "web", "h5", "wechat"]

# Current SDK versions per platform, newest first (weights favour the newest).
SDK_VERSIONS = {
    0: ["ios-4.6.2", "ios-4.5.0", "ios-4.3.1"],
    1: ["android-5.1.0", "android-5.0.3", "android-4.8.2"],
    2: ["js-1.26.3", "js-1.25.0"],
    3: ["js-1.26.3", "js-1.25.0"],
    4: ["mp-2.3.1", "mp-2.2.0"],
}
SDK_WEIGHTS = [0.7, 0.22, 0.08]
RETIRED_SDK_VERSIONS = ["ios-2.9.1", "ios-2.8.0", "android-3.0.7", "android-3.0.2", "js-0.9.8"]
RETIRED_EVENTS = ["banner_click_v1", "h5_old_pageview", "fund_share_v1", "home_popup_show_old"]

IOS_MODELS = [
    "iPhone15,2",
    "iPhone15,3",
    "iPhone14,5",
    "iPhone14,2",
    "iPhone16,1",
    "iPhone13,2",
    "iPhone12,1",
]
ANDROID_MODELS = [
    "V2309A",
    "PJA110",
    "23049RAD8C",
    "ALN-AL00",
    "SM-S9180",
    "M2012K11AC",
    "PHB110",
    "LIO-AN00",
    "22081212C",
    "CPH2451",
]
IOS_VERSIONS = ["17.4", "17.5.1", "16.7.8", "18.0", "18.1"]
ANDROID_VERSIONS = ["12", "13", "14", "15"]
DESKTOP_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 "
    "Safari/537.36 Edg/122.0.0.0",
]
BOT_USER_AGENTS = [
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 "
    "Safari/537.36",
]

# Screens: (screen_name, app_section, web path, browse weight)
SCREENS: list[tuple[str, str, str, float]] = [
    ("home", "home", "index", 26.0),
    ("fund_market", "fund_market", "funds", 14.0),
    ("fund_detail", "fund_market", "fund", 20.0),
    ("fund_search", "fund_market", "search", 5.0),
    ("my_assets", "my_assets", "assets", 12.0),
    ("trade_records", "my_assets", "records", 4.0),
    ("sip_plan", "sip", "sip", 4.0),
    ("news_feed", "news", "news", 8.0),
    ("activity_center", "activity", "activity", 4.0),
    ("profile", "account", "me", 3.0),
    # funnel / business screens, not used for plain browsing
    ("landing", "activity", "landing", 0.0),
    ("register", "account", "register", 0.0),
    ("open_account", "account", "open-account", 0.0),
    ("bind_card", "account", "bind-card", 0.0),
    ("purchase_confirm", "fund_market", "buy", 0.0),
    ("redeem_confirm", "my_assets", "redeem", 0.0),
    ("sip_setup", "sip", "sip/new", 0.0),
]
SCREEN_INDEX = {name: i for i, (name, _, _, _) in enumerate(SCREENS)}
SITE_BASE = {2: "https://www.xinyuanfund.com/", 3: "https://m.xinyuanfund.com/", 4: "pages/"}

# Acquisition channels: (utm_source, utm_medium, campaigns, search keywords or empty, referrer)
ORGANIC = "organic"
UTM_SOURCES: list[tuple[str, str, list[str], list[str], str | None]] = [
    (
        "baidu",
        "cpc",
        ["brand_search", "sip_keywords"],
        ["基金定投", "指数基金", "货币基金收益", "稳健理财", "养老目标基金", "鑫源基金"],
        "https://www.baidu.com/",
    ),
    ("sogou", "cpc", ["sip_keywords"], ["基金定投", "债券基金", "理财产品推荐"], "https://www.sogou.com/"),
    ("toutiao", "feed", ["spring_sip", "index_fund_promo"], [], "https://www.toutiao.com/"),
    ("douyin", "video", ["new_user_gift", "spring_sip"], [], "https://www.douyin.com/"),
    ("wechat", "social", ["article_share", "friend_invite"], [], "https://mp.weixin.qq.com/"),
    ("xiaohongshu", "kol", ["fund_notes"], [], "https://www.xiaohongshu.com/"),
    ("weibo", "social", ["market_hot"], [], "https://weibo.com/"),
    ("invite", "referral", ["friend_invite"], [], None),
    (ORGANIC, "", [], [], None),
]
# Source mix per new-person kind (visitor / registered / customer): channels differ in quality.
SOURCE_WEIGHTS = {
    "visitor": [0.16, 0.05, 0.20, 0.25, 0.08, 0.08, 0.08, 0.02, 0.08],
    "registered": [0.20, 0.05, 0.17, 0.15, 0.10, 0.08, 0.05, 0.06, 0.14],
    "customer": [0.24, 0.06, 0.12, 0.08, 0.12, 0.08, 0.04, 0.10, 0.16],
}
# Re-engagement campaigns reaching existing users (first event of a few sessions).
REENGAGE_UTMS: list[tuple[str, str, str]] = [
    ("sms", "sms", "wake_up_dormant"),
    ("app_push", "push", "monthly_report"),
    ("wechat", "social", "market_weekly"),
]

FUND_COMPANIES = [
    ("鑫源基金管理有限公司", "鑫源", 0.62),
    ("华岳基金管理有限公司", "华岳", 0.12),
    ("东方澜基金管理有限公司", "东方澜", 0.10),
    ("长江睿信基金管理有限公司", "睿信", 0.09),
    ("金桥基金管理有限公司", "金桥", 0.07),
]
# fund_type -> (count, possible risk ratings, daily NAV volatility, fee rate of purchase, themes)
FUND_TYPES: dict[str, tuple[int, list[int], float, float, list[str]]] = {
    "money_market": (4, [1], 0.0, 0.0, ["货币", "现金宝货币", "天天利货币", "添利货币"]),
    "bond": (
        7,
        [2],
        0.0008,
        0.0008,
        ["稳健债券", "纯债", "双利债券", "信用债", "短债", "中短债", "增强债券"],
    ),
    "fixed_income_plus": (
        5,
        [2, 3],
        0.002,
        0.001,
        ["稳进一年持有", "固收增强", "安鑫回报", "稳盈6个月", "鑫享"],
    ),
    "hybrid": (
        8,
        [3, 4],
        0.009,
        0.0015,
        [
            "价值精选混合",
            "成长优选混合",
            "均衡配置混合",
            "新兴产业混合",
            "消费升级混合",
            "医疗健康混合",
            "科技创新混合",
            "灵活配置混合",
        ],
    ),
    "equity": (
        7,
        [4, 5],
        0.013,
        0.0015,
        [
            "核心优势股票",
            "新能源股票",
            "半导体股票",
            "红利股票",
            "高端制造股票",
            "大盘蓝筹股票",
            "专精特新股票",
        ],
    ),
    "index": (
        6,
        [4],
        0.012,
        0.0012,
        ["沪深300指数增强", "中证500指数", "创业板指数", "中证红利指数", "科创50ETF联接", "上证50指数"],
    ),
    "qdii": (3, [4, 5], 0.011, 0.0015, ["全球科技(QDII)", "纳斯达克100(QDII)", "标普500(QDII)"]),
}

# Customer risk tolerance C1..C5 shares.
RISK_LEVEL_WEIGHTS = [0.05, 0.20, 0.40, 0.25, 0.10]
CONSENT_CHANNELS = ["sms", "phone", "app_push", "wechat"]
CONSENT_GRANT_RATE = [0.85, 0.60, 0.80, 0.50]

# Operator test numbers: typed in by staff and testers, never a customer's phone.
TEST_PHONE_NUMBERS = ("13800138000", "13900139000", "18888888888", "12345678901")
# Junk identifier values the source systems are known to emit.
JUNK_VALUES = ["null", "undefined", "0", "-1", ""]
JUNK_PHONES = ["00000000000", "11111111111", "99999999999"]
JUNK_ID_NUMBERS = ["000000000000000000", "111111111111111111", "null", "0"]
